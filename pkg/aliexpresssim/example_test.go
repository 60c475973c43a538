package aliexpresssim_test

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
)

// Every call is signed: the parameters but sign, sorted by name, as
// key+value pairs (the API path in front for /rest calls), HMAC-SHA256 with
// the app secret, in uppercase hex. The simulator refuses any other.
func ExampleSign() {
	params := url.Values{
		"method": {"aliexpress.trade.ds.order.get"}, "app_key": {"12345678"}, "timestamp": {"1700000000000"},
		"sign_method": {"sha256"}, "format": {"json"}, "v": {"2.0"}, "access_token": {"token"},
		"single_order_query": {`{"order_id":8100001}`},
	}
	sign := aliexpresssim.Sign("secret", "", params)
	fmt.Println(len(sign), sign == strings.ToUpper(sign), sign == aliexpresssim.Sign("secret", "", params))
	// Output: 64 true true
}
