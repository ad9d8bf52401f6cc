/*
 * crc32.h - CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) used to
 * checksum every wire and IPC message.  Pure function, thread safe.
 */
#ifndef PVE_PROTO_CRC32_H
#define PVE_PROTO_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len bytes; start with crc = 0. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
