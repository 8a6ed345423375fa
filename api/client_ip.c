/* Client address resolution for rate limits. X-Forwarded-For is read only
 * behind a trusted proxy, right to left, because everything left of the last
 * trusted hop was written by the client and can be forged. */
#include "client_ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "string_set.h"

/* Canonical text of an address given as text; "" when it is not one. IPv6
 * is reduced to its /64 prefix. */
static void canonical(const char *text, size_t len, char out[CLIENT_IP_MAX])
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    out[0] = '\0';
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof buf)
        return;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        inet_ntop(AF_INET, addr, out, CLIENT_IP_MAX);
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        char prefix[INET6_ADDRSTRLEN];
        memset(addr + 8, 0, 8);
        inet_ntop(AF_INET6, addr, prefix, sizeof prefix);
        snprintf(out, CLIENT_IP_MAX, "%s/64", prefix);
    }
}

static void peer_address(const struct _u_request *request, char out[CLIENT_IP_MAX])
{
    const struct sockaddr *sa = request->client_address;
    out[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, CLIENT_IP_MAX);
    } else if (sa->sa_family == AF_INET6) {
        /* Ulfius copies only sizeof(struct sockaddr) (16 bytes) of the peer
         * address, which holds the first 8 bytes of an IPv6 address: exactly
         * the /64 prefix we identify IPv6 clients by. */
        unsigned char addr[sizeof(struct in6_addr)] = {0};
        char prefix[INET6_ADDRSTRLEN];
        memcpy(addr, (const unsigned char *)sa + offsetof(struct sockaddr_in6, sin6_addr), 8);
        inet_ntop(AF_INET6, addr, prefix, sizeof prefix);
        snprintf(out, CLIENT_IP_MAX, "%s/64", prefix);
    }
}

static bool is_trusted(const struct string_set *trusted, const char *address)
{
    return trusted != NULL && address[0] != '\0' && string_set_contains(trusted, address, strlen(address));
}

void client_ip_resolve(const struct _u_request *request, const struct string_set *trusted_proxies,
                       char out[CLIENT_IP_MAX])
{
    peer_address(request, out);
    if (!is_trusted(trusted_proxies, out))
        return;
    const char *forwarded = u_map_get_case(request->map_header, "X-Forwarded-For");
    if (forwarded == NULL)
        return;
    /* Walk the list from the right: skip our own proxies, take the first
     * address they did not add themselves. */
    size_t end = strlen(forwarded);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && forwarded[start - 1] != ',')
            start--;
        char hop[CLIENT_IP_MAX];
        canonical(forwarded + start, end - start, hop);
        if (hop[0] == '\0')
            return; /* garbage: keep the last trusted value we had */
        snprintf(out, CLIENT_IP_MAX, "%s", hop);
        if (!is_trusted(trusted_proxies, hop))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}

bool client_ip_trust_list(struct string_set *trusted, const char *comma_list)
{
    for (const char *p = comma_list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        char address[CLIENT_IP_MAX];
        canonical(p, len, address);
        if (address[0] != '\0' && !string_set_add(trusted, address, strlen(address)))
            return false;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}
