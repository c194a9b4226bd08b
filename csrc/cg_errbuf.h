/* cg_errbuf.h: the size of the buffer a failing kernel writes its message into.
 *
 * The one place it is written: generated modules (cgraph.h), the C call path
 * (cg_fastcall.h) and Python (cgraph/compile/toolchain.py reads the line below) take
 * it from here, and an exported library's header repeats the value.
 */
#ifndef CGRAPH_ERRBUF_H
#define CGRAPH_ERRBUF_H

#define CG_ERRBUF 512

#endif
