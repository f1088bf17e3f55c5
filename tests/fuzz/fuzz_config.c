/* libFuzzer target: the deck parser. The input is deck text; its first line is also applied as a
 * --section.key=value override. Any input must give 0 or a clean error, never a crash. */
#include "softntk/deck.h"
#include "softntk/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sntk_deck_t deck;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  memset(&deck, 0, sizeof deck);
  if (sntk_config_init(&deck.cfg, sntk_deck_sections, &deck) == 0) {
    sntk_config_parse(&deck.cfg, text, "fuzz.ini");
    char *nl = strchr(text, '\n');
    if (nl) *nl = '\0';
    sntk_config_override(&deck.cfg, text);
    char *resolved = sntk_config_format(&deck.cfg);
    free(resolved);
  }
  free(text);
  return 0;
}
