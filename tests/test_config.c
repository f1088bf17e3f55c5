/* Deck parsing: defaults, types, ranges, unknown names with suggestions, overrides, duplicates, the
 * resolved text and its hash, and which keys define a trajectory. Single rank. */
#include "harness.h"
#include "softntk/deck.h"

#include <stdlib.h>
#include <string.h>

static int load(const char *text, int nover, char *const *over, sntk_deck_t *deck) {
  const char *path = "test_config_deck.ini";
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return sntk_deck_load(MPI_COMM_WORLD, path, nover, over, deck);
}

/* The deck must fail with `code` and a message containing every fragment. */
static void expect_error(const char *what, const char *text, const char *override, int code,
                         const char *frag1, const char *frag2) {
  sntk_deck_t deck;
  char *over[1] = {(char *) override};
  int err = load(text, override ? 1 : 0, over, &deck);
  const char *msg = sntk_error_message();
  int ok = err == code && strstr(msg, frag1) && (!frag2 || strstr(msg, frag2));
  TH_OK(ok, "%s -> %d: %s", what, err, msg);
  if (!err) sntk_deck_free(&deck);
}

/* Trajectory keys: [diffusion] keys that define the target or the training triples count, the
 * evaluation and sampling keys do not, and a checkpoint written before [diffusion] existed (its
 * config has no such section) is not compared on it. */
static int test_trajectory(void) {
  sntk_deck_t a, b, c;
  char *radius[] = {"diffusion.radius=2"}, *eval[] = {"diffusion.eval_every=7"},
       *width[] = {"model.width=64"}, diff[1024];
  TH_CALL(sntk_deck_load(MPI_COMM_WORLD, NULL, 0, NULL, &a));
  TH_CALL(sntk_deck_load(MPI_COMM_WORLD, NULL, 1, radius, &b));
  TH_CALL(sntk_deck_load(MPI_COMM_WORLD, NULL, 1, eval, &c));
  int same = sntk_deck_same_trajectory(a.text, b.text, diff, sizeof diff);
  TH_OK(!same && strstr(diff, "diffusion.radius = 1 there, 2 here"),
        "diffusion.radius is a "
        "trajectory key: %s",
        diff);
  TH_OK(sntk_deck_same_trajectory(a.text, c.text, diff, sizeof diff),
        "diffusion.eval_every is not a trajectory key");
  char *old = strdup(a.text);
  *strstr(old, "[diffusion]") = '\0'; /* a config written before the section existed */
  TH_OK(sntk_deck_same_trajectory(old, b.text, diff, sizeof diff),
        "a config without [diffusion] is not compared on it");
  sntk_deck_free(&b);
  TH_CALL(sntk_deck_load(MPI_COMM_WORLD, NULL, 1, width, &b));
  same = sntk_deck_same_trajectory(old, b.text, diff, sizeof diff);
  TH_OK(!same && strstr(diff, "model.width"), "... but still on its other sections: %s", diff);
  free(old);
  sntk_deck_free(&a), sntk_deck_free(&b), sntk_deck_free(&c);
  return 0;
}

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  sntk_deck_t deck;
  TH_CALL(sntk_deck_load(MPI_COMM_WORLD, NULL, 0, NULL, &deck));
  TH_OK(deck.model.width == 1024 && deck.model.activation == SNTK_ACT_SOFTMAX &&
            deck.data.n == 32 && !strcmp(deck.train.eta, "auto") && !strcmp(deck.run.name, "default"),
        "built-in defaults");
  char hash0[17];
  strcpy(hash0, deck.hash);
  TH_OK(strstr(deck.text, "[model]\nactivation = softmax\nwidth = 1024\n") != NULL,
        "resolved text lists sections and keys in table order");
  sntk_deck_free(&deck);

  char *over[] = {"model.width=2048", "train.eta=0.5", "data.constant_coord=no"};
  TH_CALL(
      load("[model]\nactivation = relu ; comment\nwidth = 16\n[data]\nn = 10\n", 3, over, &deck));
  TH_OK(deck.model.width == 2048 && deck.model.activation == SNTK_ACT_RELU && deck.data.n == 10 &&
            !strcmp(deck.train.eta, "0.5") && deck.data.constant_coord == 0,
        "deck values and overrides (override wins)");
  TH_OK(sntk_config_is_set(&deck.cfg, "data", "n") && !sntk_config_is_set(&deck.cfg, "data", "d"),
        "explicitly set keys are tracked");
  TH_OK(strcmp(deck.hash, hash0) != 0, "hash changes with the config (%s vs %s)", deck.hash, hash0);
  sntk_deck_free(&deck);
  TH_CALL(load("[model]\nwidth = 1e3\n", 0, NULL, &deck));
  TH_OK(deck.model.width == 1000, "integer written as 1e3 accepted");
  sntk_deck_free(&deck);

  expect_error("unknown key", "[model]\nwidht = 5\n", NULL, 2, "unknown key 'widht'", "'width'");
  expect_error("unknown key line", "[model]\n\nwidth = 8\nsigmaa = 1\n", NULL, 2, ":4:", "'sigma'");
  expect_error("key in wrong section", "[data]\nwidth = 8\n", NULL, 2, "unknown key 'width'",
               "belongs in [model]");
  expect_error("unknown section", "[modle]\nwidth = 8\n", NULL, 2, "unknown section [modle]",
               "[model]");
  expect_error("non-numeric", "[model]\nwidth = lots\n", NULL, 2, "model.width = 'lots'",
               "not a whole number");
  expect_error("fractional int", "[data]\nn = 2.5\n", NULL, 2, "data.n = '2.5'", NULL);
  expect_error("m = 0", "[model]\nwidth = 0\n", NULL, 2, "model.width = 0 is out of range", ">= 1");
  expect_error("eta = 0", "[train]\neta = 0\n", NULL, 2, "train.eta = '0'", "'auto' or a finite number > 0");
  expect_error("bad choice", "[model]\nactivation = sofmax\n", NULL, 2, "not one of",
               "did you mean 'softmax'");
  expect_error("bad bool", "[data]\nstore = maybe\n", NULL, 2, "data.store = 'maybe'", "boolean");
  expect_error("bad scale", "[model]\noutput_scale = huge\n", NULL, 2, "output_scale", "'paper'");
  expect_error("duplicate", "[model]\nwidth = 4\nwidth = 8\n", NULL, 2, "given twice", ":3:");
  expect_error("outside section", "width = 4\n", NULL, 2, "before any [section]", NULL);
  expect_error("malformed line", "[model]\nwidth\n", NULL, 2, ":2:", "malformed");
  expect_error("coupled odd", "[model]\nwidth = 5\ninit = coupled\n", NULL, 2, "odd", NULL);
  expect_error("bad override", "", "model.widht=3", 2, "override --model.widht=3",
               "did you mean 'width'");
  expect_error("override form", "", "model.width", 2, "--section.key=value", NULL);
  expect_error("file without path", "[data]\nsource = file\n", NULL, 2, "data.file", NULL);
  if (test_trajectory()) return 1; /* a deck failed to load: th_finish_now has reported it */
  sntk_deck_t d2;
  int err = sntk_deck_load(MPI_COMM_WORLD, "/nonexistent/deck.ini", 0, NULL, &d2);
  TH_OK(err == 2 && strstr(sntk_error_message(), "No such file"), "missing deck: %s",
        sntk_error_message());
  remove("test_config_deck.ini");
  return th_finish();
}
