/*
 * banned.h - force-included into every translation unit of the project.
 * Unbounded string functions are a classic source of overflows; use
 * snprintf/memcpy with explicit sizes instead (idea from git's banned.h).
 */
#ifndef PVE_BANNED_H
#define PVE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)

#endif
