// Catch2's main() for the unit_tests executable; the tests live in the other files here.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
