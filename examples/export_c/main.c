/* Train the exported XOR network in plain C (see export_xor.py). */
#include <stdio.h>

#include "xor_net.h"

int main(void)
{
    const double X[4][2] = {{0, 1}, {1, 0}, {1, 1}, {0, 0}};
    const double Y[4] = {1, 1, 0, 0};
    char err[XOR_NET_ERRBUF];
    xor_net_state s;
    double cost = 0;

    if (xor_net_init(&s) != 0)
        return 1;
    for (int epoch = 0; epoch < 10000; ++epoch) {
        for (int k = 0; k < 4; ++k) {
            if (xor_net_step(&s, X[k], &Y[k], &cost, err) != 0) {
                fprintf(stderr, "step failed: %s\n", err);
                return 1;
            }
        }
        if (epoch % 2000 == 0)
            printf("epoch %5d  cost %.6f\n", epoch, cost);
    }
    printf("final cost %.6f\n", cost);
    xor_net_free(&s);
    return 0;
}
