/* Paths: the folder and name of a file, and the names of a wallet's
 * companion files (`<wallet>` followed by a suffix such as ".lock"). */
#ifndef TZ_BASE_PATH_H
#define TZ_BASE_PATH_H

/* Splits `path` into a newly allocated folder ("." when none, "/" for a
 * file at the root) and a pointer to the base name inside `path` (base
 * may be NULL). Returns NULL on allocation failure. */
char *tz_path_dirname(const char *path, const char **base);

/* `<path><suffix>` as a new string (the caller frees), or NULL when out
 * of memory. */
char *tz_path_companion(const char *path, const char *suffix);

#endif
