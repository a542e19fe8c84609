/* Everything the tzel-wallet commands share, in one include: argument
 * parsing (args.h), the wallet session (session.h), the rollup node
 * (node.h) and addresses (address.h). */
#ifndef TZ_CLI_COMMON_H
#define TZ_CLI_COMMON_H

#include "address.h"
#include "args.h"
#include "node.h"
#include "session.h"

#endif
