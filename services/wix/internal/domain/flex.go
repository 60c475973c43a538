package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// flexString is a string Wix (or an older API version) may also send as a
// number or a boolean ("number": 10042); null is "".
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	case b[0] == '{' || b[0] == '[':
		return errors.New("an object or array where a value was expected")
	}
	*f = flexString(b)
	return nil
}

// flexInt is an integer sent as a number or a string ("2"); null is 0.
type flexInt int

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	str := strings.TrimSpace(string(s))
	if str == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(str, 10, 32)
	if err != nil {
		fl, ferr := strconv.ParseFloat(str, 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > math.MaxInt32 {
			return errors.New("not an integer")
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}
