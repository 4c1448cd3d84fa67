/* Limits shared by every stage of the compiled core, written once (see _typedefs.pxd). */
#ifndef CA_LIMITS_H
#define CA_LIMITS_H

/* The input guard: non-finite samples become 0, finite ones are clamped to
   +-CA_INPUT_CLAMP (24 dB above full scale) before any stage sees them. */
#define CA_INPUT_CLAMP 16.0

#endif
