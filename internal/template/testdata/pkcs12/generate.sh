#!/bin/sh
# Regenerates the OpenSSL archives of the PKCS#12 tests (pfx_test.go):
# a leaf ECDSA key with a leaf, intermediate and root certificate, exported
# with OpenSSL 3's defaults and its other schemes. Needs OpenSSL 3 with the
# legacy provider (for RC2). The keys are throwaway test keys.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$1"; }
key "$tmp/root.key"
key "$tmp/mid.key"
key leaf.key
openssl req -new -x509 -key "$tmp/root.key" -subj /CN=root -days 36500 -out "$tmp/root.pem"
ca() { # ca NAME SUBJECT KEY ISSUER EXTENSIONS
	printf '%s\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n' "$5" >"$tmp/ext"
	openssl req -new -key "$3" -subj "$2" |
		openssl x509 -req -CA "$tmp/$4.pem" -CAkey "$tmp/$4.key" -days 36500 -extfile "$tmp/ext" -out "$1"
}
ca "$tmp/mid.pem" /CN=intermediate "$tmp/mid.key" root "basicConstraints = critical, CA:true"
ca leaf.pem /CN=leaf leaf.key mid "basicConstraints = CA:false"
cat "$tmp/mid.pem" "$tmp/root.pem" >"$tmp/cas.pem"
cat leaf.pem "$tmp/cas.pem" >chain.pem

p12() { # p12 NAME PASSWORD OPTIONS...
	name=$1 pass=$2
	shift 2
	openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile "$tmp/cas.pem" -passout "pass:$pass" -out "$name.p12" "$@"
}
p12 openssl-default s3cret
p12 openssl-empty-password ""
p12 openssl-legacy s3cret -legacy
p12 openssl-legacy-empty-password "" -legacy
p12 openssl-3des s3cret -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1
p12 openssl-rc2-128 s3cret -legacy -certpbe PBE-SHA1-RC2-128
p12 openssl-aes128-sha512mac s3cret -certpbe AES-128-CBC -keypbe AES-128-CBC -macalg sha512
p12 openssl-unencrypted "" -certpbe NONE -keypbe NONE -nomac
p12 openssl-iter100000 s3cret -iter 100000
p12 openssl-iter1000000 s3cret -iter 1000000 -maciter
