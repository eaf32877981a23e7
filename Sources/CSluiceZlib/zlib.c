#include "CSluiceZlib.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

void *sluice_deflater_new(int gzip, int level) {
    z_stream *stream = calloc(1, sizeof(z_stream));
    if (stream == NULL) return NULL;
    // 15 bits of window; +16 asks zlib for the gzip wrapper instead of zlib's.
    if (deflateInit2(stream, level, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(stream);
        return NULL;
    }
    return stream;
}

long sluice_deflate(void *deflater, const uint8_t *input, size_t input_length, uint8_t *output, size_t capacity) {
    z_stream *stream = deflater;
    if (input_length > UINT_MAX || capacity > UINT_MAX) return -1;
    if (deflateReset(stream) != Z_OK) return -1;
    stream->next_in = (Bytef *)input;
    stream->avail_in = (uInt)input_length;
    stream->next_out = output;
    stream->avail_out = (uInt)capacity;
    int status = deflate(stream, Z_FINISH);
    if (status != Z_STREAM_END) return -1;
    return (long)(capacity - stream->avail_out);
}

size_t sluice_deflate_bound(void *deflater, size_t input_length) {
    return deflateBound(deflater, (uLong)input_length);
}

void *sluice_inflater_new(int raw) {
    z_stream *stream = calloc(1, sizeof(z_stream));
    if (stream == NULL) return NULL;
    // +32: gzip or zlib, from the header. The window size never changes, so inflateReset keeps
    // the window zlib allocates on the first use.
    if (inflateInit2(stream, raw ? -15 : 15 + 32) != Z_OK) {
        free(stream);
        return NULL;
    }
    return stream;
}

long sluice_inflate(void *inflater, const uint8_t *input, size_t input_length, uint8_t *output, size_t capacity) {
    z_stream *stream = inflater;
    if (input_length > UINT_MAX || capacity > UINT_MAX) return -2;
    if (inflateReset(stream) != Z_OK) return -1;
    stream->next_in = (Bytef *)input;
    stream->avail_in = (uInt)input_length;
    stream->next_out = output;
    stream->avail_out = (uInt)capacity;
    int status = inflate(stream, Z_FINISH);
    if (status == Z_STREAM_END) {
        // One stream, and nothing after it.
        return stream->avail_in == 0 ? (long)(capacity - stream->avail_out) : -1;
    }
    // No room left before the stream's end: the output is what ran out (a bare deflate stream
    // has no trailer, so its input may be all read when that happens).
    if ((status == Z_BUF_ERROR || status == Z_OK) && stream->avail_out == 0) return -2;
    return -1;
}

void sluice_deflater_free(void *deflater) {
    deflateEnd(deflater);
    free(deflater);
}

void sluice_inflater_free(void *inflater) {
    inflateEnd(inflater);
    free(inflater);
}
