package aliexpresssim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
)

// API names the simulator serves.
const (
	MethodOrderCreate   = "aliexpress.ds.order.create"
	MethodOrderGet      = "aliexpress.trade.ds.order.get"
	MethodTrackingGet   = "aliexpress.ds.order.tracking.get"
	MethodOrderList     = "aliexpress.ds.order.list"
	PathTokenCreate     = "/auth/token/create"
	PathTokenRefresh    = "/auth/token/refresh"
	timestampLayout     = "2006-01-02 15:04:05"
	defaultWindow       = 10 * time.Minute
	defaultVisibleAfter = 10 * time.Second
)

// Singletons says how a one-element list is encoded.
type Singletons int

const (
	// SingletonsAlternate encodes one-element lists as a bare object every
	// other time, so a client meets both forms (the default).
	SingletonsAlternate Singletons = iota
	// SingletonsObject always encodes a one-element list as a bare object.
	SingletonsObject
	// SingletonsList always encodes lists as arrays.
	SingletonsList
)

// Config configures a Sim. The zero value is usable.
type Config struct {
	// Now is the simulator's clock; default time.Now. Tokens, timestamps,
	// visibility, quotas and rate limits all follow it.
	Now func() time.Time
	// TimestampWindow is how far a request's timestamp may be from Now;
	// default 10 minutes.
	TimestampWindow time.Duration
	// VisibleAfter is how long after creation an order becomes visible to
	// trade.ds.order.get and tracking; default 10 s.
	VisibleAfter time.Duration
	// DailyQuota is the calls an app key may make per day (in Zone); 0 is
	// no quota.
	DailyQuota int
	// RateLimit is the calls a second each app key may make to each API,
	// with a burst of RateBurst (default RateLimit rounded up); 0 is no
	// limit.
	RateLimit float64
	// RateBurst is the per-API burst.
	RateBurst float64
	// TokenTTL is the life of an access token; default 24 h.
	TokenTTL time.Duration
	// RefreshTTL is the life of a refresh token; default 30 days.
	RefreshTTL time.Duration
	// Zone is the time zone of gmt_* fields and of the quota day; default
	// UTC+8 (China Standard Time, as AliExpress uses).
	Zone *time.Location
	// Singletons encodes one-element lists; default SingletonsAlternate.
	Singletons Singletons
	// OrderIDsOnly answers ds.order.create as its documentation shows it:
	// order_list only, without the order_product_list extension, so a
	// client that places several sellers' items learns which order holds
	// which item only by reading the orders back.
	OrderIDsOnly bool
	// ChildrenWithoutProductID leaves product_id out of
	// trade.ds.order.get's children, as the method's sample does (sku_id
	// and product_count stay).
	ChildrenWithoutProductID bool
	// BareLists encodes every list as a bare array, the shape the
	// methods' field tables document ("child_order_list": [...]), instead
	// of wrapped in an object named after its element.
	BareLists bool
	// RiskControlFor, when set, puts every paid order in RISK_CONTROL for
	// that long before WAIT_SELLER_SEND_GOODS.
	RiskControlFor time.Duration
	// CallLog is how many calls Calls keeps, the newest; default 10,000.
	// CallCount counts every call, however old.
	CallLog int
}

// Sim is the simulator. It is safe for concurrent use.
type Sim struct {
	cfg Config

	mu        sync.Mutex
	apps      map[string]*app
	tokens    map[string]*token // access token -> token
	refreshes map[string]*token // refresh token -> token
	codes     map[string]grant  // auth code -> grant
	products  map[string]*Product
	orders    map[int64]*order
	orderIDs  []int64
	byOut     map[string][]int64 // account + out_order_id -> orders
	nextOrder int64
	failures  []Failure
	faults    []Fault
	calls     *ring.Log[Call]
	callsBy   map[string]int // calls per API, ever (since ResetCalls)
	seq       int64
	flip      bool
}

// New returns a simulator with no apps, products or orders.
func New(cfg Config) *Sim {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimestampWindow <= 0 {
		cfg.TimestampWindow = defaultWindow
	}
	if cfg.VisibleAfter <= 0 {
		cfg.VisibleAfter = defaultVisibleAfter
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.Zone == nil {
		cfg.Zone = time.FixedZone("CST", 8*3600)
	}
	if cfg.RateLimit > 0 && cfg.RateBurst <= 0 {
		cfg.RateBurst = float64(int(cfg.RateLimit + 0.999))
	}
	return &Sim{
		cfg:       cfg,
		apps:      map[string]*app{},
		tokens:    map[string]*token{},
		refreshes: map[string]*token{},
		codes:     map[string]grant{},
		products:  map[string]*Product{},
		orders:    map[int64]*order{},
		byOut:     map[string][]int64{},
		nextOrder: 8190000000000001,
		calls:     ring.New[Call](cfg.CallLog),
		callsBy:   map[string]int{},
	}
}

// Serve serves the simulator on lis until ctx ends.
func (s *Sim) Serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("aliexpress simulator: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("aliexpress simulator: %w", err)
	}
	return nil
}

// Clock is a settable clock for tests and demos; its zero value starts at
// the zero time, so set it first. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Call is one recorded request.
type Call struct {
	// At is the simulator's time of the call.
	At time.Time
	// API is the method (business APIs) or the /rest path ("/auth/token/create").
	API string
	// Params are the request's parameters, as received.
	Params url.Values
	// HTTPStatus is the status answered (200 even for error_response).
	HTTPStatus int
	// ErrorCode is the error_response code, as text; empty on success.
	ErrorCode string
	// SubCode is the error_response sub_code, if any.
	SubCode string
	// RequestID is the request_id answered.
	RequestID string
}

// Calls returns the calls so far, oldest first: the newest Config.CallLog
// of them, so a simulator that runs for days holds a bounded log.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls.All()
}

// CallCount counts the calls to api ("" counts all), answered or not.
func (s *Sim) CallCount(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if api == "" {
		return s.calls.Total()
	}
	return s.callsBy[api]
}

// ResetCalls forgets the recorded calls.
func (s *Sim) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Reset()
	clear(s.callsBy)
}

// apiError is an error_response.
type apiError struct {
	code    any // string or int
	msg     string
	subCode string
	subMsg  string
}

func (e *apiError) codeText() string { return fmt.Sprint(e.code) }

func errMissing(name string) *apiError {
	return &apiError{code: "MissingParameter", msg: fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied.", name)}
}

func errInvalid(name, why string) *apiError {
	return &apiError{code: "InvalidParameter", msg: fmt.Sprintf("The specified parameter %q is not valid: %s", name, why)}
}

// FaultKind says how an injected fault answers.
type FaultKind int

const (
	// FaultErrorResponse answers HTTP 200 with Fault.Code and friends.
	FaultErrorResponse FaultKind = iota
	// FaultStatus answers with HTTP Fault.Status (default 503) and an HTML body.
	FaultStatus
	// FaultTimeout holds the request for Fault.Delay (default 30 s) or
	// until the client gives up, then answers 504.
	FaultTimeout
)

// Fault is an injected failure for the next Times calls (default 1) to
// Method ("" any method or path).
type Fault struct {
	Method string
	Kind   FaultKind
	Times  int
	// Status for FaultStatus.
	Status int
	// Delay for FaultTimeout.
	Delay time.Duration
	// Code (a string or an int), Msg, SubCode and SubMsg for FaultErrorResponse.
	Code            any
	Msg             string
	SubCode, SubMsg string
}

// InjectFault queues f; faults apply in the order injected.
func (s *Sim) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults drops every queued fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault for api and consumes one use of it.
// Callers hold mu.
func (s *Sim) takeFault(api string) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if f.Method != "" && f.Method != api {
			continue
		}
		out := *f
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

// ServeHTTP serves the API and the /_sim/ controls.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveControl(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	params := url.Values{}
	for k, v := range r.Form {
		params[k] = append([]string(nil), v...)
	}
	var api, path string
	switch {
	case r.URL.Path == "/sync":
		api = params.Get("method")
	case strings.HasPrefix(r.URL.Path, "/rest/"):
		path = strings.TrimPrefix(r.URL.Path, "/rest")
		api = path
	default:
		http.NotFound(w, r)
		return
	}

	s.mu.Lock()
	now := s.cfg.Now()
	s.seq++
	reqID := fmt.Sprintf("21%011x%07d", now.UnixMilli()&0xfffffffffff, s.seq)
	call := Call{At: now, API: api, Params: params, HTTPStatus: http.StatusOK, RequestID: reqID}
	fault, faulty := s.takeFault(api)
	s.mu.Unlock()

	if faulty {
		switch fault.Kind {
		case FaultStatus:
			st := fault.Status
			if st == 0 {
				st = http.StatusServiceUnavailable
			}
			call.HTTPStatus = st
			s.record(call)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(st)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", st, http.StatusText(st))
			return
		case FaultTimeout:
			d := fault.Delay
			if d <= 0 {
				d = 30 * time.Second
			}
			call.HTTPStatus = http.StatusGatewayTimeout
			s.record(call)
			select {
			case <-r.Context().Done():
			case <-time.After(d):
			}
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		default:
			e := &apiError{code: fault.Code, msg: fault.Msg, subCode: fault.SubCode, subMsg: fault.SubMsg}
			if e.code == nil {
				e.code = 15
			}
			s.answerError(w, call, e)
			return
		}
	}

	s.mu.Lock()
	result, aerr := s.handle(now, api, path, params)
	s.mu.Unlock()
	if aerr != nil {
		s.answerError(w, call, aerr)
		return
	}
	var body any = result
	if path == "" {
		result["request_id"] = reqID
		body = map[string]any{strings.ReplaceAll(api, ".", "_") + "_response": result}
	} else {
		result["request_id"] = reqID
	}
	s.record(call)
	writeJSON(w, body)
}

func (s *Sim) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Append(c)
	s.callsBy[c.API]++
}

func (s *Sim) answerError(w http.ResponseWriter, call Call, e *apiError) {
	call.ErrorCode, call.SubCode = e.codeText(), e.subCode
	s.record(call)
	er := map[string]any{"code": e.code, "msg": e.msg, "request_id": call.RequestID}
	if e.subCode != "" {
		er["sub_code"] = e.subCode
	}
	if e.subMsg != "" {
		er["sub_msg"] = e.subMsg
	}
	writeJSON(w, map[string]any{"error_response": er})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// handle checks a call and runs its API. Callers hold mu.
func (s *Sim) handle(now time.Time, api, path string, p url.Values) (map[string]any, *apiError) {
	a, tok, err := s.authenticate(now, api, path, p)
	if err != nil {
		return nil, err
	}
	if err := s.admit(now, a, api); err != nil {
		return nil, err
	}
	switch api {
	case PathTokenCreate:
		return s.tokenCreate(now, a, p)
	case PathTokenRefresh:
		return s.tokenRefresh(now, a, p)
	case MethodOrderCreate:
		return s.orderCreate(now, tok, p)
	case MethodOrderGet:
		return s.orderGet(now, tok, p)
	case MethodTrackingGet:
		return s.trackingGet(now, tok, p)
	case MethodOrderList:
		return s.orderList(now, tok, p)
	}
	return nil, &apiError{code: "InvalidApiPath", msg: fmt.Sprintf("The specified API %q does not exist.", api)}
}

// authenticate checks the system parameters and the signature.
func (s *Sim) authenticate(now time.Time, api, path string, p url.Values) (*app, *token, *apiError) {
	for _, name := range []string{"app_key", "timestamp", "sign_method", "sign", "format", "v"} {
		if p.Get(name) == "" {
			return nil, nil, errMissing(name)
		}
	}
	if path == "" && api == "" {
		return nil, nil, errMissing("method")
	}
	a, ok := s.apps[p.Get("app_key")]
	if !ok {
		return nil, nil, &apiError{code: "InvalidAppKey", msg: "The specified app key is invalid."}
	}
	if m := p.Get("sign_method"); m != "sha256" {
		return nil, nil, &apiError{code: "InvalidSignMethod", msg: fmt.Sprintf("The sign method %q is not supported; use sha256.", m)}
	}
	if f := p.Get("format"); f != "json" {
		return nil, nil, errInvalid("format", "only json is served")
	}
	if v := p.Get("v"); v != "2.0" && v != "1.0" {
		return nil, nil, errInvalid("v", "want 2.0")
	}
	ms, err := strconv.ParseInt(p.Get("timestamp"), 10, 64)
	if err != nil {
		return nil, nil, &apiError{code: "InvalidTimestamp", msg: "The timestamp must be epoch milliseconds."}
	}
	if d := now.Sub(time.UnixMilli(ms)); d > s.cfg.TimestampWindow || d < -s.cfg.TimestampWindow {
		return nil, nil, &apiError{code: "InvalidTimestamp", msg: "The timestamp is too far from the server time.", subMsg: fmt.Sprintf("server time %d", now.UnixMilli())}
	}
	want := Sign(a.secret, path, p)
	if !hmac.Equal([]byte(want), []byte(p.Get("sign"))) {
		return nil, nil, &apiError{code: "IncompleteSignature", msg: "The request signature does not conform to platform standards"}
	}
	if path != "" {
		return a, nil, nil
	}
	at := p.Get("access_token")
	if at == "" {
		return nil, nil, errMissing("access_token")
	}
	tok, ok := s.tokens[at]
	switch {
	case !ok || tok.appKey != a.key || tok.revoked:
		return nil, nil, &apiError{code: "IllegalAccessToken", msg: "The specified access token is invalid or expired."}
	case !now.Before(tok.expires):
		return nil, nil, &apiError{code: 27, msg: "Invalid session", subCode: "session-expired", subMsg: "The session has expired; refresh the access token."}
	}
	return a, tok, nil
}

// admit counts the call against the app's daily quota and the API's rate
// limit.
func (s *Sim) admit(now time.Time, a *app, api string) *apiError {
	day := now.In(s.cfg.Zone).Format("2006-01-02")
	if a.day != day {
		a.day, a.used = day, 0
	}
	if s.cfg.DailyQuota > 0 && a.used >= s.cfg.DailyQuota {
		next := time.Date(now.In(s.cfg.Zone).Year(), now.In(s.cfg.Zone).Month(), now.In(s.cfg.Zone).Day()+1, 0, 0, 0, 0, s.cfg.Zone)
		return &apiError{code: 7, msg: "App Call Limited", subCode: "accesscontrol.limited-by-app-access-count",
			subMsg: fmt.Sprintf("This ban will last for %d more seconds", int(next.Sub(now).Seconds()))}
	}
	if s.cfg.RateLimit > 0 {
		b := a.buckets[api]
		if b == nil {
			b = &simBucket{tokens: s.cfg.RateBurst, last: now}
			a.buckets[api] = b
		}
		if now.After(b.last) {
			b.tokens = min(s.cfg.RateBurst, b.tokens+now.Sub(b.last).Seconds()*s.cfg.RateLimit)
			b.last = now
		}
		if b.tokens < 1 {
			return &apiError{code: "ApiCallLimit", msg: "The request has exceeded the limit of API calls.", subCode: "isv.api-call-limit",
				subMsg: fmt.Sprintf("%s is limited to %g calls a second", api, s.cfg.RateLimit)}
		}
		b.tokens--
	}
	a.used++
	return nil
}

type simBucket struct {
	tokens float64
	last   time.Time
}

// Sign computes the signature AliExpress expects: every parameter but sign,
// sorted by name, as name1value1name2value2..., with apiPath in front for
// /rest APIs ("" for /sync), HMAC-SHA256 keyed with secret, upper-case hex.
func Sign(secret, apiPath string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(apiPath)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params.Get(k))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}
