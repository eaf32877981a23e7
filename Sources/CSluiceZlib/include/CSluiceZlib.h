#ifndef CSLUICE_ZLIB_H
#define CSLUICE_ZLIB_H

#include <stddef.h>
#include <stdint.h>

// zlib (Debian's zlib1g) for content codings: whole bodies in one call, on streams set up once
// per worker, so that nothing is allocated per request (deflateReset and inflateReset keep
// their memory).

// A deflate stream writing gzip (`gzip` 1) or zlib (`gzip` 0) framing at `level` (1–9), or
// NULL when zlib cannot set one up.
void *sluice_deflater_new(int gzip, int level);
// Compresses all of `input` into `output`: the number of bytes written, or -1 when `output`
// is too small (nothing usable was written).
long sluice_deflate(void *deflater, const uint8_t *input, size_t input_length, uint8_t *output, size_t capacity);
// The most bytes `sluice_deflate` writes for `input_length` bytes.
size_t sluice_deflate_bound(void *deflater, size_t input_length);

// An inflate stream for gzip or zlib framing (told apart by their headers) (`raw` 0), or for a
// bare deflate stream (`raw` 1); NULL when zlib cannot set one up.
void *sluice_inflater_new(int raw);
// Decompresses all of `input` (exactly one stream, nothing after it) into `output`: the number
// of bytes written, -1 when `input` is not such a stream, -2 when `output` is too small.
long sluice_inflate(void *inflater, const uint8_t *input, size_t input_length, uint8_t *output, size_t capacity);

// Releases a stream and its memory.
void sluice_deflater_free(void *deflater);
void sluice_inflater_free(void *inflater);

#endif
