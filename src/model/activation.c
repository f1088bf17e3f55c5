/* The activation table: one line per activation, each implemented in its own file act_<name>.c
 * (see sntk_act_ops_t in model.h). The order is the order of model.activation's choices and of
 * SNTK_ACT_*. */
#include "softntk/model.h"

#include <stddef.h>

#define ACTIVATIONS(X) X(softmax) X(exp) X(relu)

#define DECLARE(name) extern const sntk_act_ops_t sntk_act_##name;
ACTIVATIONS(DECLARE)
#undef DECLARE

#define ENTRY(name) &sntk_act_##name,
const sntk_act_ops_t *const sntk_act_table[] = {ACTIVATIONS(ENTRY) NULL};
#undef ENTRY

#define NAME(name) #name,
const char *const sntk_activation_names[] = {ACTIVATIONS(NAME) NULL};
#undef NAME
