/* GNU MP, built by c-tests/install_check.sh with an installed libgmp's prefix on the default
 * search paths: `#include <gmp.h>` and -lgmp must still be GNU MP's. Prints 30!. */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef __GNU_MP__
#error "<gmp.h> is not GNU MP's header"
#endif

int main(void)
{
    mpz_t f, k;
    mpz_init_set_ui(f, 1);
    mpz_init(k);
    for (unsigned i = 2; i <= 30; i++) {
        mpz_set_ui(k, i);
        mpz_mul(f, f, k);
    }
    char *s = mpz_get_str(NULL, 10, f);
    printf("%s\n", s);
    free(s);
    mpz_clear(k);
    mpz_clear(f);
    return 0;
}
