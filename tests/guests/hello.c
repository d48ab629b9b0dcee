/* hello: the smoke test. 32-bit flavour; prints a line and exits with 0.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: Hello from a Hayate guest
 * EXPECT-OUTPUT: PASS hello
 */
#include "guest.h"

void main(void)
{
    puts("Hello from a Hayate guest\n");
}
