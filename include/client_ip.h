/* client_ip: who is asking, for per-client limits. The socket peer, unless
 * the peer is a trusted proxy (TRUSTED_PROXIES), then the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. */
#ifndef SIGNUP_CLIENT_IP_H
#define SIGNUP_CLIENT_IP_H

#include <stddef.h>
#include <ulfius.h>

struct string_set;

#define CLIENT_IP_MAX 64

/* Writes the client's address as text to out. IPv6 clients are identified
 * by their /64 prefix (one subscriber usually owns a whole /64, so counting
 * single addresses would be trivial to dodge). trusted may be NULL. */
void client_ip_resolve(const struct _u_request *request, const struct string_set *trusted_proxies,
                       char out[CLIENT_IP_MAX]);

#endif
