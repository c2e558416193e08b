/**
 * TLS material for tests of a destination whose certificate fails verification: loopback HTTPS
 * stand-ins only. TEST KEYS, published on purpose: never trust these certificates anywhere.
 * Both name `127.0.0.1` and `tls.platform.test`, so the ONLY reason a client refuses them is the
 * one in their name. Dates are fixed (generated with `openssl ca -selfsign -startdate/-enddate`),
 * so what a check says does not depend on the day the test runs (until 2120).
 */

/** A self-signed certificate, valid 2020-01-01 to 2120-01-01: refused as DEPTH_ZERO_SELF_SIGNED_CERT. */
export const selfSignedTls = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgI1hjeILCTeEu6XNC
xvTDJBE8bgjm9YpunLFkJyH0VOuhRANCAAT7rCeeeMEupBOW4QBZ1M5tziU4doTN
v5zucl/VllyDRkXO/2qu5Yre8sXQsxwKom2Zs5Y2r+S4M99YaojvU60L
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBgDCCASagAwIBAgIBAjAKBggqhkjOPQQDAjAlMSMwIQYDVQQDDBpvcGVucGlw
ZXMgdGVzdCBzZWxmLXNpZ25lZDAgFw0yMDAxMDEwMDAwMDBaGA8yMTIwMDEwMTAw
MDAwMFowJTEjMCEGA1UEAwwab3BlbnBpcGVzIHRlc3Qgc2VsZi1zaWduZWQwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAAT7rCeeeMEupBOW4QBZ1M5tziU4doTNv5zu
cl/VllyDRkXO/2qu5Yre8sXQsxwKom2Zs5Y2r+S4M99YaojvU60Lo0UwQzAiBgNV
HREEGzAZhwR/AAABghF0bHMucGxhdGZvcm0udGVzdDAdBgNVHQ4EFgQUSl6Pou5Z
fjdt2bL1DMgPqr51cCowCgYIKoZIzj0EAwIDSAAwRQIgTaFb5v6AAXTjWp8+hgUj
NmIlg/AeJGrFqcHmHfV77KsCIQCWcM36JF3Dagm5ENd/pE00cttw0CgLWI6aPXbj
QBVY3g==
-----END CERTIFICATE-----
`,
};

/** A certificate that expired on 2020-01-02: refused as CERT_HAS_EXPIRED. */
export const expiredTls = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfuVrzaNY3n27vifE
9h7nj7fSSi2p4AboiUbGV4LIX1OhRANCAATlueSZQ5PxHQojR4BztKFdUHtuMvZ/
nQ2VkCfe5Mtt2DuFyuzDmH6/5silkRzLUpw+57pgzWWrFlvtbmkHeDG7
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBdzCCARygAwIBAgIBATAKBggqhkjOPQQDAjAhMR8wHQYDVQQDDBZvcGVucGlw
ZXMgdGVzdCBleHBpcmVkMB4XDTIwMDEwMTAwMDAwMFoXDTIwMDEwMjAwMDAwMFow
ITEfMB0GA1UEAwwWb3BlbnBpcGVzIHRlc3QgZXhwaXJlZDBZMBMGByqGSM49AgEG
CCqGSM49AwEHA0IABOW55JlDk/EdCiNHgHO0oV1Qe24y9n+dDZWQJ97ky23YO4XK
7MOYfr/myKWRHMtSnD7numDNZasWW+1uaQd4MbujRTBDMCIGA1UdEQQbMBmHBH8A
AAGCEXRscy5wbGF0Zm9ybS50ZXN0MB0GA1UdDgQWBBTJ5irkflNbmD53u7516jYq
fcRjiTAKBggqhkjOPQQDAgNJADBGAiEAusZLIrmGyrCubsqVLGp2bftGuB9lvZJN
PXOJwu+du3UCIQDzdkxpXe0N52Xnn9K9FTla+oNvXhEawAm8CBBEnQIwTw==
-----END CERTIFICATE-----
`,
};
