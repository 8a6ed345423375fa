/* client_ip: who is asking, for per-client limits. The socket peer, unless
 * the peer is a trusted proxy (TRUSTED_PROXIES), then the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. */
#ifndef SIGNUP_CLIENT_IP_H
#define SIGNUP_CLIENT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <ulfius.h>

struct string_set;

#define CLIENT_IP_MAX 64

/* Writes the client's address as text to out. IPv6 clients are identified
 * by their /64 prefix (one subscriber usually owns a whole /64, so counting
 * single addresses would be trivial to dodge). trusted may be NULL. */
void client_ip_resolve(const struct _u_request *request, const struct string_set *trusted_proxies,
                       char out[CLIENT_IP_MAX]);

/* Adds each address of comma_list (TRUSTED_PROXIES, already validated) to
 * trusted in the form client_ip_resolve compares with: IPv4 as inet_ntop
 * writes it, IPv6 as its /64 prefix, because that is all Ulfius tells of an
 * IPv6 peer. So an IPv6 proxy is trusted by its /64: only list proxies whose
 * /64 holds no untrusted hosts. Entries that are not addresses are skipped.
 * Returns false when out of memory. */
bool client_ip_trust_list(struct string_set *trusted, const char *comma_list) __attribute__((warn_unused_result));

#endif
