// jemalloc's options for the programs that link it (CMakeLists.txt's
// PARENDB_ALLOCATOR). jemalloc reads this symbol when it starts; the
// MALLOC_CONF environment variable still overrides any of it.
//
// thp:always — jemalloc asks for transparent huge pages (madvise) on the
// memory it maps. The database's memory only grows while documents are
// inserted, and every new 4 KiB page costs a page fault, which on a virtual
// machine is expensive: durable ~1 KB inserts took 0.31 faults each, about
// a tenth of the server's CPU per insert (perf, 64 connections). With huge
// pages: 0.01 faults per insert and 24.9-26.1 instead of 28.9-31.6 µs of
// CPU per insert, reads and transfers unchanged. bench/memory.sh (1,000,000
// documents): 374-378 instead of 364-366 bytes per document after loading,
// and the database reopens in 0.84-0.89 instead of 2.62-3.08 s, as loading
// a checkpoint is nearly all fresh memory (docs/storage.md). An idle server
// is ~9 MiB larger. Where the kernel's THP mode is
// "never" the request does nothing.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:always";
}
