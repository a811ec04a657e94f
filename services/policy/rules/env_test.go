package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestGettersCoverFields: every CEL field of the three variables has a
// preconverted getter, and every scalar field a guard reader, so that
// neither falls back to reflection or to CEL by omission.
func TestGettersCoverFields(t *testing.T) {
	types := map[string]reflect.Type{
		typeRequest:    reflect.TypeFor[Request](),
		typeIdentity:   reflect.TypeFor[Identity](),
		typeConnection: reflect.TypeFor[Connection](),
	}
	vars := map[string]string{typeRequest: varRequest, typeIdentity: varIdentity, typeConnection: varConnection}
	for name, typ := range types {
		n := 0
		for f := range typ.Fields() {
			tag := f.Tag.Get("cel")
			if !f.IsExported() {
				continue
			}
			if tag == "" {
				t.Errorf("%s.%s has no cel tag", name, f.Name)
				continue
			}
			n++
			if getters[name][tag] == nil {
				t.Errorf("%s.%s has no getter", name, tag)
			}
			var ok bool
			switch f.Type.Kind() {
			case reflect.String:
				_, ok = stringFields[vars[name]][tag]
			case reflect.Int64:
				_, ok = intFields[tag]
			case reflect.Bool:
				_, ok = boolFields[tag]
			default:
				ok = true
			}
			if !ok {
				t.Errorf("%s.%s has no guard reader", name, tag)
			}
		}
		if n != len(getters[name]) {
			t.Errorf("%s: %d fields, %d getters", name, n, len(getters[name]))
		}
	}
}

// FuzzParse: no policy text makes the loader panic, and whatever loads
// can be evaluated.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		s.Evaluate(request("GET", "/repos/acme/api"))
	})
}
