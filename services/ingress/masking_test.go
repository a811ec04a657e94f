package ingress

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestAcceptEncodingKeepsWhatAirlockDecodes(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"gzip, deflate, br, zstd":        "gzip, deflate, br",
		"zstd":                           "",
		"GZIP;q=0.5, compress, identity": "GZIP;q=0.5",
		" br ; q=1 ,  x-bomb":            "br ; q=1",
	} {
		if got := acceptEncoding(in); got != want {
			t.Errorf("acceptEncoding(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	const text = "a body worth masking\n"
	encode := map[string]func(io.Writer) io.WriteCloser{
		"gzip":    func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
		"deflate": func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) },
		"br":      func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) },
		"raw deflate": func(w io.Writer) io.WriteCloser {
			fw, _ := flate.NewWriter(w, flate.DefaultCompression)
			return fw
		},
	}
	for name, enc := range encode {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			w := enc(&b)
			_, _ = io.WriteString(w, text)
			_ = w.Close()
			coding := name
			if name == "raw deflate" {
				coding = "deflate"
			}
			resp := &http.Response{Header: http.Header{"Content-Encoding": {coding}}, Body: io.NopCloser(&b)}
			body, err := decodeBody(resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err != nil || string(got) != text {
				t.Errorf("decoded %q, %v", got, err)
			}
		})
	}
	t.Run("unknown coding is refused", func(t *testing.T) {
		resp := &http.Response{Header: http.Header{"Content-Encoding": {"zstd"}}, Body: io.NopCloser(bytes.NewReader([]byte("x")))}
		var un errUninspectable
		if _, err := decodeBody(resp); !errors.As(err, &un) {
			t.Errorf("zstd: %v, want errUninspectable", err)
		}
	})
	t.Run("gzip that is not gzip", func(t *testing.T) {
		resp := &http.Response{Header: http.Header{"Content-Encoding": {"gzip"}}, Body: io.NopCloser(bytes.NewReader([]byte("plain text")))}
		if _, err := decodeBody(resp); err == nil {
			t.Error("a plain body labelled gzip decoded")
		}
	})
}
