/* The results writers against the declared schema (schema.h): a declared path is written with the
 * schema's units and description, a path, attribute or series column the schema lacks is refused
 * naming it, and so are units or a description that differ from the schema's. Also the pattern
 * matching of numbered paths (/ntk/gram_<step> holds gram_12, not gram_limit, which is its own
 * entry) and that every entry of the table is well formed. */
#include "harness.h"
#include "softntk/results.h"
#include "softntk/schema.h"

#include <unistd.h>

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  const char *path = "test_schema_results.h5";
  sntk_results_t *res = NULL;
  int err = sntk_results_create(MPI_COMM_WORLD, path, "train", "[run]\n", "0", &res);
  TH_OK(!err, "results file created for command train");
  double x[6] = {1, 2, 3, 4, 5, 6};

  err = sntk_results_matrix(res, "/data/X", 2, 3, x, NULL, NULL);
  TH_OK(!err, "a declared dataset (/data/X) without units or description is written");
  err = sntk_results_matrix(res, "/data/planted", 2, 3, x, "1", "a dataset nobody declared");
  TH_OK(err == SNTK_ERR_RUNTIME && strstr(sntk_error_message(), "/data/planted") &&
            strstr(sntk_error_message(), "not declared"),
        "an undeclared dataset is refused: %s", sntk_error_message());
  err = sntk_results_matrix(res, "/data/X", 2, 3, x, "s", NULL);
  TH_OK(err == SNTK_ERR_RUNTIME && strstr(sntk_error_message(), "units"),
        "units other than the schema's are refused: %s", sntk_error_message());
  err = sntk_results_matrix(res, "/data/X", 2, 3, x, "1", "something else");
  TH_OK(err == SNTK_ERR_RUNTIME && strstr(sntk_error_message(), "description"),
        "a description other than the schema's is refused: %s", sntk_error_message());
  err = sntk_results_attr_f64(res, "planted_attribute", 1.0);
  TH_OK(err == SNTK_ERR_RUNTIME && strstr(sntk_error_message(), "/@planted_attribute"),
        "an undeclared root attribute is refused: %s", sntk_error_message());
  err = sntk_results_attr_f64(res, "final_loss", 0.5);
  TH_OK(!err, "a declared root attribute (final_loss) is written");
  sntk_column_t cols[2] = {{"step", 1, NULL, NULL}, {"planted", 0, "1", "planted"}};
  int id = -1;
  err = sntk_results_series(res, "/train", 2, cols, &id);
  TH_OK(err == SNTK_ERR_RUNTIME && strstr(sntk_error_message(), "/train/planted"),
        "a series with an undeclared column is refused: %s", sntk_error_message());
  err = sntk_results_series(res, "/train", 1, cols, &id);
  TH_OK(!err, "a declared series column (/train/step) is declared");
  if (!err) {
    double row = 0;
    err = sntk_results_append(res, id, &row);
  }
  TH_OK(!sntk_results_close(&res), "results file closed");
  if (th_rank == 0) {
    char *u = NULL, *d = NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = f >= 0 ? H5Dopen2(f, "/data/X", H5P_DEFAULT) : -1;
    int ok = ds >= 0 && !sntk_h5_attr_read_str(ds, "units", &u) &&
             !sntk_h5_attr_read_str(ds, "description", &d);
    const sntk_schema_entry_t *e = sntk_schema_find(SNTK_SCHEMA_RESULTS, "/data/X");
    TH_OK(ok && e && !strcmp(u, e->units) && !strcmp(d, e->description),
          "/data/X carries the schema's units \"%s\" and description \"%s\"", ok ? u : "",
          ok ? d : "");
    TH_OK(f >= 0 && !sntk_h5_exists(f, "/data/planted"), "the refused dataset is not in the file");
    free(u);
    free(d);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    unlink(path);

    const sntk_schema_entry_t *g = sntk_schema_find(SNTK_SCHEMA_RESULTS, "/ntk/gram_12");
    const sntk_schema_entry_t *l = sntk_schema_find(SNTK_SCHEMA_NTK, "/ntk/gram_limit");
    TH_OK(g && !strcmp(g->path, "/ntk/gram_<step>") && l && !strcmp(l->path, "/ntk/gram_limit") &&
              !sntk_schema_find(SNTK_SCHEMA_RESULTS, "/ntk/gram_x1") &&
              !sntk_schema_find(SNTK_SCHEMA_BENCH, "/ntk/gram_12"),
          "/ntk/gram_12 matches /ntk/gram_<step>; gram_limit its own entry; gram_x1 and bench.h5 "
          "nothing");
    const sntk_schema_entry_t *mi =
        sntk_schema_find(SNTK_SCHEMA_SAMPLES, "/samples/mode_inside_exact");
    TH_OK(
        mi && !strcmp(mi->path, "/samples/mode_inside_<set>"),
        "/samples/mode_inside_exact matches the more specific pattern /samples/mode_inside_<set>");
    int n, bad = 0;
    const sntk_schema_entry_t *t = sntk_schema_entries(&n);
    for (int i = 0; i < n; i++) {
      int is_attr = strchr(t[i].path, '@') != NULL;
      bad += !t[i].files || t[i].path[0] != '/' || !t[i].description || !t[i].writers ||
             !t[i].shape || is_attr != (t[i].kind == SNTK_SCHEMA_ATTR) ||
             (t[i].kind == SNTK_SCHEMA_GROUP) != (t[i].type == SNTK_SCHEMA_NONE) ||
             (t[i].kind != SNTK_SCHEMA_DATASET && t[i].units);
      for (int j = 0; j < i; j++) bad += (t[i].files & t[j].files) && !strcmp(t[i].path, t[j].path);
    }
    TH_OK(n > 100 && bad == 0, "%d schema entries, every one well formed and declared once", n);
  }
  return th_finish();
}
