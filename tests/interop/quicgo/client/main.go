// h3client: a small HTTP/3 client on quic-go's http3.RoundTripper, used by tests/interop/run.sh
// to drive asioquic-server from an implementation we did not write.
//
// It fetches each URL in turn over one http.Client, so requests to the same origin share one
// QUIC connection, and prints one line per URL on stdout:
//
//	status=200 proto=HTTP/3.0 bytes=N sha256=HEX time=0.123s url=URL [body=TEXT]
//
// With -0rtt, each URL after the first goes on a new connection that resumes the session of
// the one before and sends its GET as 0-RTT early data (quic-go's http3.MethodGet0RTT).
//
// The body itself is only hashed (never kept), so 100 MB responses cost no memory.
// Exit status: 0 if every request got a response, 1 on a transport error, 2 on a usage error.
//
// Built offline against Debian's golang-github-lucas-clemente-quic-go-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o h3client .
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

// hashingWriter counts and hashes what is written to it, and keeps the first bytes for -show-body.
type hashingWriter struct {
	n    int64
	h    hashState
	head []byte
	keep int
}

type hashState interface {
	io.Writer
	Sum([]byte) []byte
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	if room := w.keep - len(w.head); room > 0 {
		if room > len(p) {
			room = len(p)
		}
		w.head = append(w.head, p[:room]...)
	}
	w.n += int64(len(p))
	return w.h.Write(p)
}

func main() {
	insecure := flag.Bool("insecure", false, "do not verify the server certificate")
	cacert := flag.String("cacert", "", "verify the server against the CA certificates in this PEM file")
	method := flag.String("X", "", "request method (default GET, or POST with -data)")
	data := flag.String("data", "", "send this file as the request body (streamed from disk)")
	showBody := flag.Bool("show-body", false, "append the first 4 KiB of each body, on one line")
	timeout := flag.Duration("timeout", 120*time.Second, "limit for each request, body included")
	keyLog := flag.String("keylog", "", "append TLS secrets to this file (for tshark)")
	early := flag.Bool("0rtt", false, "fetch each URL after the first on a new connection, as 0-RTT early data")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [flags] URL...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || (*insecure && *cacert != "") || (*early && (*method != "" || *data != "")) {
		flag.Usage()
		os.Exit(2)
	}

	tlsConf := &tls.Config{InsecureSkipVerify: *insecure}
	if *early {
		tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fmt.Fprintln(os.Stderr, "h3client:", err)
			os.Exit(2)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "h3client: no certificate in", *cacert)
			os.Exit(2)
		}
		tlsConf.RootCAs = pool
	}
	if *keyLog != "" {
		f, err := os.OpenFile(*keyLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "h3client:", err)
			os.Exit(2)
		}
		tlsConf.KeyLogWriter = f // closed by the exit
	}
	rt := &http3.RoundTripper{
		TLSClientConfig: tlsConf,
		QuicConfig:      &quic.Config{HandshakeIdleTimeout: 10 * time.Second},
	}
	client := &http.Client{Transport: rt, Timeout: *timeout}

	verb := *method
	if verb == "" {
		verb = http.MethodGet
		if *data != "" {
			verb = http.MethodPost
		}
	}
	status := 0
	for i, url := range flag.Args() {
		if *early && i > 0 {
			// The session ticket comes after the handshake, with or after the response: give
			// it a moment, then start over on a new connection that resumes the session.
			time.Sleep(100 * time.Millisecond)
			rt.Close()
			verb = http3.MethodGet0RTT
		}
		if err := fetch(client, verb, url, *data, *showBody); err != nil {
			fmt.Fprintf(os.Stderr, "h3client: %s %s: %v\n", verb, url, err)
			status = 1
		}
	}
	// Closes the connections (CONNECTION_CLOSE) rather than leaving the server to time them
	// out; os.Exit would skip a deferred Close.
	rt.Close()
	os.Exit(status)
}

// fetch sends one request and prints its summary line.
func fetch(client *http.Client, method, url, dataFile string, showBody bool) error {
	var body io.Reader
	var length int64
	if dataFile != "" {
		f, err := os.Open(dataFile)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		body, length = f, st.Size()
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	if body != nil {
		// A known length lets the server see content-length, and an empty file still sends
		// an empty body rather than none.
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w := &hashingWriter{h: sha256.New()}
	if showBody {
		w.keep = 4096
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("reading the body after %d bytes: %w", w.n, err)
	}
	line := fmt.Sprintf("status=%d proto=%s bytes=%d sha256=%s time=%.3fs url=%s",
		resp.StatusCode, resp.Proto, w.n, hex.EncodeToString(w.h.Sum(nil)),
		time.Since(start).Seconds(), url)
	if showBody {
		line += " body=" + strings.Join(strings.Fields(string(w.head)), " ")
	}
	fmt.Println(line)
	return nil
}
