/* client_ip: who is asking, for per-client limits. X-Forwarded-For counts
 * only behind a proxy listed in TRUSTED_PROXIES, IPv4 or IPv6; IPv6 clients
 * and proxies are known by their /64, since Ulfius keeps only the first 16
 * bytes of the peer's sockaddr. */
#define _GNU_SOURCE /* struct sockaddr_in6 under -D_POSIX_C_SOURCE */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

#include "client_ip.h"
#include "string_set.h"

/* A request as Ulfius hands it over: the peer's sockaddr cut to
 * sizeof(struct sockaddr), and the X-Forwarded-For header when given. */
static void make_request(struct _u_request *request, const char *peer, const char *forwarded)
{
    ck_assert_int_eq(ulfius_init_request(request), U_OK);
    struct sockaddr *cut = calloc(1, sizeof *cut);
    ck_assert_ptr_nonnull(cut);
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, peer, &v4.sin_addr) == 1)
        memcpy(cut, &v4, sizeof *cut);
    else if (inet_pton(AF_INET6, peer, &v6.sin6_addr) == 1)
        memcpy(cut, &v6, sizeof *cut);
    else
        ck_abort_msg("not an address: %s", peer);
    request->client_address = cut;
    if (forwarded != NULL)
        ck_assert_int_eq(u_map_put(request->map_header, "X-Forwarded-For", forwarded), U_OK);
}

static void assert_resolves(const char *trusted_list, const char *peer, const char *forwarded, const char *expected)
{
    struct string_set *trusted = string_set_create();
    struct _u_request request;
    char out[CLIENT_IP_MAX];
    ck_assert_ptr_nonnull(trusted);
    ck_assert(client_ip_trust_list(trusted, trusted_list));
    make_request(&request, peer, forwarded);
    client_ip_resolve(&request, trusted, out);
    ck_assert_msg(strcmp(out, expected) == 0, "TRUSTED_PROXIES=%s, peer %s, X-Forwarded-For %s: got %s, want %s",
                  trusted_list, peer, forwarded ? forwarded : "(none)", out, expected);
    ulfius_clean_request(&request);
    string_set_free(trusted);
}

START_TEST(test_client_ip_is_the_peer_when_no_proxy_is_trusted)
{
    assert_resolves("", "198.51.100.7", "203.0.113.9", "198.51.100.7");
    assert_resolves("", "2001:db8:1:2:3:4:5:6", "203.0.113.9", "2001:db8:1:2::/64");
}
END_TEST

START_TEST(test_client_ip_behind_a_trusted_ipv4_proxy_is_the_forwarded_client)
{
    assert_resolves("10.0.0.1", "10.0.0.1", "203.0.113.9", "203.0.113.9");
    assert_resolves("10.0.0.1", "10.0.0.2", "203.0.113.9", "10.0.0.2");
    /* Right to left: the hop the client wrote itself is not believed. */
    assert_resolves("10.0.0.1", "10.0.0.1", "192.0.2.66, 203.0.113.9", "203.0.113.9");
}
END_TEST

START_TEST(test_client_ip_behind_a_trusted_ipv6_proxy_is_the_forwarded_client)
{
    assert_resolves("2001:db8::1", "2001:db8::1", "203.0.113.9", "203.0.113.9");
    assert_resolves("2001:db8:0:0:0:0:0:1", "2001:db8::1", "2001:db8:aa:bb::9", "2001:db8:aa:bb::/64");
    /* The same /64 is all that can be told of the peer. */
    assert_resolves("2001:db8::1", "2001:db8::ffff", "203.0.113.9", "203.0.113.9");
    assert_resolves("2001:db8::1", "2001:db8:0:1::1", "203.0.113.9", "2001:db8:0:1::/64");
}
END_TEST

START_TEST(test_client_ip_skips_every_trusted_hop_of_a_mixed_chain)
{
    assert_resolves("10.0.0.1, 2001:db8::1", "10.0.0.1", "203.0.113.9, 2001:db8::1", "203.0.113.9");
    assert_resolves("10.0.0.1,2001:db8::1", "2001:db8::1", "2001:db8:5::7, 10.0.0.1", "2001:db8:5::/64");
}
END_TEST

START_TEST(test_client_ip_trust_list_skips_what_is_not_an_address)
{
    assert_resolves("not-an-ip,,10.0.0.1", "10.0.0.1", "203.0.113.9", "203.0.113.9");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_ip");
    TCase *tc = tcase_create("resolve");
    tcase_add_test(tc, test_client_ip_is_the_peer_when_no_proxy_is_trusted);
    tcase_add_test(tc, test_client_ip_behind_a_trusted_ipv4_proxy_is_the_forwarded_client);
    tcase_add_test(tc, test_client_ip_behind_a_trusted_ipv6_proxy_is_the_forwarded_client);
    tcase_add_test(tc, test_client_ip_skips_every_trusted_hop_of_a_mixed_chain);
    tcase_add_test(tc, test_client_ip_trust_list_skips_what_is_not_an_address);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
