/* The table of solver backends of the NTK (ntk.solver): one line per backend, each implemented in
 * its own file solver_<name>.c (see ntk_solver_ops_t in ntk_impl.h). */
#include "ntk_impl.h"

#include <stddef.h>

#define SOLVERS(X) X(scalapack)

#define DECLARE(name) extern const ntk_solver_ops_t ntk_solver_##name;
SOLVERS(DECLARE)
#undef DECLARE

#define ENTRY(name) &ntk_solver_##name,
const ntk_solver_ops_t *const ntk_solver_table[] = {SOLVERS(ENTRY) NULL};
#undef ENTRY

#define NAME(name) #name,
const char *const ntk_solver_names[] = {SOLVERS(NAME) NULL};
#undef NAME
