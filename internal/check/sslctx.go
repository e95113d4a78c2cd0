package check

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"

	"github.com/lvsd/lvsd/internal/config"
)

// SSLClient is what keepalived 2.2.7's top-level SSL block gives its
// SSL_GET checkers (check_ssl.c build_ssl_ctx): a client certificate
// chain and key, presented when a real server asks for one. Its CA file
// is loaded (a file that does not load is an error, as in keepalived) but
// changes no verdict: keepalived never sets SSL_VERIFY_PEER, so real
// servers' certificates are not verified, with or without it.
type SSLClient struct {
	Certificate *tls.Certificate // nil: none presented
}

// LoadSSLClient builds cfg's SSL context when an SSL_GET needs it
// (keepalived's ssl_required); nil without an SSL block or SSL_GET. Like
// keepalived's init_ssl_ctx, a certificate, key or CA file that does not
// load is an error: keepalived's checker then exits, so `lvsd run` does not
// start on it and a reload with it is refused.
func LoadSSLClient(cfg *config.Config) (*SSLClient, error) {
	s := cfg.Global.SSL
	if s == nil || !hasSSLGet(cfg) {
		return nil, nil
	}
	c := &SSLClient{}
	var certPEM, keyPEM []byte
	if s.Certificate != "" {
		b, err := os.ReadFile(s.Certificate)
		if err != nil {
			return nil, fmt.Errorf("SSL certificate: %w", err)
		}
		certPEM = b
	}
	if s.Key != "" {
		b, err := os.ReadFile(s.Key)
		if err != nil {
			return nil, fmt.Errorf("SSL key: %w", err)
		}
		if keyPEM, err = decryptKeyPEM(b, s.Password); err != nil {
			return nil, fmt.Errorf("SSL key %s: %w", s.Key, err)
		}
	} else if certPEM != nil && hasKeyBlock(certPEM) {
		// No key file: OpenSSL finds the key, if any, beside the chain.
		var err error
		if keyPEM, err = decryptKeyPEM(certPEM, s.Password); err != nil {
			return nil, fmt.Errorf("SSL key in %s: %w", s.Certificate, err)
		}
	}
	// A certificate without its key, or a key without a certificate, loads
	// in keepalived and presents nothing: neither does lvsd.
	if certPEM != nil && keyPEM != nil {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("SSL certificate %s and key %s: %w", s.Certificate, s.Key, err)
		}
		c.Certificate = &cert
	}
	if s.CA != "" {
		b, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, fmt.Errorf("SSL ca: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("SSL ca %s: no certificate in it", s.CA)
		}
	}
	return c, nil
}

// hasKeyBlock reports whether b holds a PEM private key.
func hasKeyBlock(b []byte) bool {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return false
		}
		if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			return true
		}
	}
}

func hasSSLGet(cfg *config.Config) bool {
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checkers {
				if c.Type == config.CheckSSL {
					return true
				}
			}
		}
	}
	return false
}

// tlsConfig is SSL_GET's client configuration: no verification of the
// real server's certificate (as keepalived), the SSL block's certificate
// when the server asks for one.
func (c *SSLClient) tlsConfig() *tls.Config {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // keepalived's SSL_GET does not verify
	if c != nil && c.Certificate != nil {
		conf.Certificates = []tls.Certificate{*c.Certificate}
	}
	return conf
}

// decryptKeyPEM returns keyPEM with its private key in the clear: an
// encrypted PKCS#8 key (OpenSSL's default since 1.1: PBES2, PBKDF2,
// AES-CBC) or a legacy "Proc-Type: 4,ENCRYPTED" one is decrypted with
// password, as OpenSSL's password callback does for keepalived.
func decryptKeyPEM(keyPEM []byte, password string) ([]byte, error) {
	var out []byte
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY":
			der, err := decryptPKCS8(b.Bytes, []byte(password))
			if err != nil {
				return nil, err
			}
			b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		case x509.IsEncryptedPEMBlock(b): //nolint:staticcheck // legacy PEM encryption, still written by openssl -traditional
			der, err := x509.DecryptPEMBlock(b, []byte(password)) //nolint:staticcheck // as above
			if err != nil {
				return nil, fmt.Errorf("decrypting the key (wrong password?): %w", err)
			}
			b = &pem.Block{Type: b.Type, Bytes: der}
		}
		out = append(out, pem.EncodeToMemory(b)...)
	}
	if out == nil {
		return nil, errors.New("no PEM block in it")
	}
	return out, nil
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

type pkcs8Encrypted struct {
	Algo          pkixAlgorithm
	EncryptedData []byte
}

type pkixAlgorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type pbes2Params struct {
	KDF    pkixAlgorithm
	Cipher pkixAlgorithm
}

type pbkdf2Params struct {
	Salt      []byte
	Iter      int
	KeyLength int           `asn1:"optional"`
	PRF       pkixAlgorithm `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 5958) with PBES2
// (RFC 8018): PBKDF2 with HMAC-SHA1/256/512, AES-128/192/256-CBC.
func decryptPKCS8(der, password []byte) ([]byte, error) {
	var enc pkcs8Encrypted
	if _, err := asn1.Unmarshal(der, &enc); err != nil {
		return nil, fmt.Errorf("encrypted PKCS#8 key: %w", err)
	}
	if !enc.Algo.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encrypted PKCS#8 key with %v: lvsd reads PBES2 (openssl's default) only", enc.Algo.Algorithm)
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(enc.Algo.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("PBES2 parameters: %w", err)
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("PBES2 key derivation %v: lvsd reads PBKDF2 only", p.KDF.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	var prf func() hash.Hash
	switch {
	case len(kdf.PRF.Algorithm) == 0 || kdf.PRF.Algorithm.Equal(oidHMACSHA1):
		prf = sha1.New
	case kdf.PRF.Algorithm.Equal(oidHMACSHA256):
		prf = sha256.New
	case kdf.PRF.Algorithm.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("PBKDF2 with %v: lvsd reads HMAC-SHA1/256/512", kdf.PRF.Algorithm)
	}
	keyLen := map[string]int{oidAES128CBC.String(): 16, oidAES192CBC.String(): 24, oidAES256CBC.String(): 32}[p.Cipher.Algorithm.String()]
	if keyLen == 0 {
		return nil, fmt.Errorf("PBES2 cipher %v: lvsd reads AES-CBC only", p.Cipher.Algorithm)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.Cipher.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, errors.New("PBES2: bad AES IV")
	}
	key, err := pbkdf2.Key(prf, string(password), kdf.Salt, kdf.Iter, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	data := enc.EncryptedData
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, errors.New("encrypted PKCS#8 key: bad length")
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(plain) {
		return nil, errors.New("decrypting the key: wrong password")
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, errors.New("decrypting the key: wrong password")
		}
	}
	plain = plain[:len(plain)-pad]
	if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
		return nil, errors.New("decrypting the key: wrong password")
	}
	return plain, nil
}
