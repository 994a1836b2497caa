/* mw_banned.h - C library calls the build refuses (git's banned.h)
 *
 * Force-included into every translation unit of src/ (-include in the
 * Makefile) after the headers that declare them, so any use of one is a
 * compile error. Use snprintf into a sized buffer or struct mw_buf instead;
 * strtok keeps hidden state (strtok_r is fine where the input is writable).
 */
#ifndef MW_BANNED_H
#define MW_BANNED_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#pragma GCC poison sprintf vsprintf strcpy strcat strncat gets strtok
#pragma GCC poison gmtime localtime ctime asctime

#endif
