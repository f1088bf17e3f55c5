/* Internals shared by the files of the diffusion module (src/diffusion). Not part of the public
 * API. */
#ifndef SOFTNTK_DIFFUSION_IMPL_H
#define SOFTNTK_DIFFUSION_IMPL_H

#include "softntk/diffusion.h"

/* Not collective. The normalised component weights of cfg (C values; equal when none are given). */
int sntk_diffusion_weights(const sntk_diffusion_cfg_t *cfg, double *w);

/* Not collective. The explicit means of cfg (C x dim values, component-major); diffusion.means must
 * be set. */
int sntk_diffusion_means(const sntk_diffusion_cfg_t *cfg, double *mu);

#endif
