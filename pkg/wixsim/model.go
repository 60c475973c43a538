package wixsim

// The JSON shapes of the Wix eCommerce API (https://www.wixapis.com/ecom/v1),
// the part of it the simulator serves. Field names are Wix's.

// Order statuses (Order.Status).
const (
	StatusInitialized = "INITIALIZED"
	StatusApproved    = "APPROVED"
	StatusCanceled    = "CANCELED"
)

// Payment statuses (Order.PaymentStatus).
const (
	PaymentNotPaid           = "NOT_PAID"
	PaymentPending           = "PENDING"
	PaymentPaid              = "PAID"
	PaymentPartiallyPaid     = "PARTIALLY_PAID"
	PaymentPartiallyRefunded = "PARTIALLY_REFUNDED"
	PaymentFullyRefunded     = "FULLY_REFUNDED"
)

// Fulfillment statuses (Order.FulfillmentStatus).
const (
	FulfillmentNotFulfilled       = "NOT_FULFILLED"
	FulfillmentPartiallyFulfilled = "PARTIALLY_FULFILLED"
	FulfillmentFulfilled          = "FULFILLED"
)

// Order is an eCommerce order as GET /orders/{id} and Search Orders return
// it (the fields dropsync reads).
type Order struct {
	// ID is the order's GUID.
	ID string `json:"id"`
	// Number is the order number the merchant and buyer see ("10001").
	Number string `json:"number"`
	// CreatedDate and UpdatedDate are RFC 3339, UTC, milliseconds;
	// UpdatedDate moves forward with every change.
	CreatedDate string `json:"createdDate"`
	UpdatedDate string `json:"updatedDate"`
	// Status is INITIALIZED, APPROVED or CANCELED.
	Status string `json:"status"`
	// PaymentStatus is NOT_PAID, PENDING, PAID, PARTIALLY_PAID,
	// PARTIALLY_REFUNDED or FULLY_REFUNDED.
	PaymentStatus string `json:"paymentStatus"`
	// FulfillmentStatus is NOT_FULFILLED, PARTIALLY_FULFILLED or
	// FULFILLED, derived from the order's fulfilments.
	FulfillmentStatus string `json:"fulfillmentStatus"`
	// Currency is the ISO 4217 code of every amount.
	Currency string `json:"currency"`
	// LineItems are the order's lines.
	LineItems []LineItem `json:"lineItems"`
	// BuyerInfo is the customer.
	BuyerInfo BuyerInfo `json:"buyerInfo"`
	// PriceSummary holds the totals.
	PriceSummary PriceSummary `json:"priceSummary"`
	// ShippingInfo is the delivery the customer chose, with its
	// destination.
	ShippingInfo *ShippingInfo `json:"shippingInfo,omitempty"`
	// RecipientInfo is who receives the order, where.
	RecipientInfo *AddressWithContact `json:"recipientInfo,omitempty"`
	// Archived is the merchant's archive flag.
	Archived bool `json:"archived"`
}

// LineItem is one line of an order.
type LineItem struct {
	// ID is the line's GUID, what fulfilments name.
	ID string `json:"id"`
	// ProductName is the product's name.
	ProductName ProductName `json:"productName"`
	// CatalogReference points at the product and variant.
	CatalogReference CatalogReference `json:"catalogReference"`
	// Quantity ordered.
	Quantity int `json:"quantity"`
	// PhysicalProperties hold the SKU.
	PhysicalProperties PhysicalProperties `json:"physicalProperties"`
	// Price per unit.
	Price Price `json:"price"`
}

// ProductName is a line's product name; Original is in the site's
// language.
type ProductName struct {
	Original string `json:"original"`
}

// CatalogReference points at the catalog item (a Wix Stores product and
// its variant).
type CatalogReference struct {
	CatalogItemID string         `json:"catalogItemId"`
	AppID         string         `json:"appId,omitempty"`
	Options       CatalogOptions `json:"options"`
}

// CatalogOptions holds the variant.
type CatalogOptions struct {
	VariantID string `json:"variantId,omitempty"`
}

// PhysicalProperties holds the SKU.
type PhysicalProperties struct {
	SKU       string `json:"sku,omitempty"`
	Shippable bool   `json:"shippable"`
}

// Price is a decimal amount in the order's currency ("19.90").
type Price struct {
	Amount          string `json:"amount"`
	FormattedAmount string `json:"formattedAmount,omitempty"`
}

// PriceSummary holds the order's totals.
type PriceSummary struct {
	Subtotal Price `json:"subtotal"`
	Total    Price `json:"total"`
}

// BuyerInfo is the customer. Email is customer data.
type BuyerInfo struct {
	ContactID string `json:"contactId,omitempty"`
	Email     string `json:"email,omitempty"`
}

// ShippingInfo is the shipping option chosen, with its destination.
type ShippingInfo struct {
	Title     string    `json:"title,omitempty"`
	Logistics Logistics `json:"logistics"`
}

// Logistics holds the shipping destination.
type Logistics struct {
	ShippingDestination *AddressWithContact `json:"shippingDestination,omitempty"`
}

// AddressWithContact is an address with the contact at it. Customer data.
type AddressWithContact struct {
	Address        Address        `json:"address"`
	ContactDetails ContactDetails `json:"contactDetails"`
}

// Address is a postal address. Subdivision is ISO 3166-2 ("US-NY").
type Address struct {
	Country      string `json:"country,omitempty"`
	Subdivision  string `json:"subdivision,omitempty"`
	City         string `json:"city,omitempty"`
	PostalCode   string `json:"postalCode,omitempty"`
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
}

// ContactDetails is a contact's name and phone.
type ContactDetails struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Company   string `json:"company,omitempty"`
}

// Fulfillment is one fulfilment of an order.
type Fulfillment struct {
	// ID is the fulfilment's GUID.
	ID string `json:"id,omitempty"`
	// CreatedDate is when it was created.
	CreatedDate string `json:"createdDate,omitempty"`
	// LineItems are the lines and quantities it fulfils.
	LineItems []FulfillmentLineItem `json:"lineItems"`
	// TrackingInfo is the parcel's tracking; nil for none.
	TrackingInfo *TrackingInfo `json:"trackingInfo,omitempty"`
}

// FulfillmentLineItem is a quantity of one order line item.
type FulfillmentLineItem struct {
	ID       string `json:"id"`
	Quantity int    `json:"quantity,omitempty"`
}

// TrackingInfo is a fulfilment's parcel tracking.
type TrackingInfo struct {
	// TrackingNumber is the carrier's parcel number.
	TrackingNumber string `json:"trackingNumber,omitempty"`
	// ShippingProvider is a predefined provider (Providers) or a custom
	// name.
	ShippingProvider string `json:"shippingProvider,omitempty"`
	// TrackingLink is the tracking page: Wix fills it for predefined
	// providers; custom ones must give it.
	TrackingLink string `json:"trackingLink,omitempty"`
}

// OrderWithFulfillments is an order id with all its fulfilments.
type OrderWithFulfillments struct {
	OrderID      string        `json:"orderId"`
	Fulfillments []Fulfillment `json:"fulfillments"`
}

// ErrorBody is Wix's error response: a message and details with an
// applicationError (business errors) or a validationError (bad fields).
type ErrorBody struct {
	Message string       `json:"message"`
	Details ErrorDetails `json:"details"`
}

// ErrorDetails holds the error's kind.
type ErrorDetails struct {
	ApplicationError *ApplicationError `json:"applicationError,omitempty"`
	ValidationError  *ValidationError  `json:"validationError,omitempty"`
}

// ApplicationError is a business error with a code, e.g. ALREADY_EXISTS.
type ApplicationError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// ValidationError lists the fields a request got wrong.
type ValidationError struct {
	FieldViolations []FieldViolation `json:"fieldViolations"`
}

// FieldViolation is one wrong field.
type FieldViolation struct {
	Field        string `json:"field"`
	Description  string `json:"description"`
	ViolatedRule string `json:"violatedRule,omitempty"`
}

// Error codes the simulator answers with (ApplicationError.Code).
const (
	CodeUnauthenticated    = "UNAUTHENTICATED"
	CodePermissionDenied   = "PERMISSION_DENIED"
	CodeTooManyRequests    = "TOO_MANY_REQUESTS"
	CodeOrderNotFound      = "ORDER_NOT_FOUND"
	CodeAlreadyExists      = "ALREADY_EXISTS"
	CodeOrderNotApproved   = "ORDER_NOT_APPROVED"
	CodeLineItemNotFound   = "LINE_ITEM_NOT_FOUND"
	CodeQuantityExceeded   = "FULFILLMENT_QUANTITY_EXCEEDED"
	CodeTrackingLinkNeeded = "TRACKING_LINK_REQUIRED"
	CodeInternal           = "INTERNAL_ERROR"
	CodeUnavailable        = "UNAVAILABLE"
)
