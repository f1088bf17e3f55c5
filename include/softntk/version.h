/* softntk version: `git describe` of the source tree at build time (the project version outside
 * git). */
#ifndef SOFTNTK_VERSION_H
#define SOFTNTK_VERSION_H

const char *sntk_version(void);

#endif
