/* Folder and base name of a path; companion file names (path.h). */
#include "base/path.h"

#include <stdlib.h>
#include <string.h>

char *tz_path_dirname(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        if (base)
            *base = path;
        return strdup(".");
    }
    if (base)
        *base = slash + 1;
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *tz_path_companion(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *p = malloc(a + b + 1);
    if (p) {
        memcpy(p, path, a);
        memcpy(p + a, suffix, b + 1);
    }
    return p;
}
