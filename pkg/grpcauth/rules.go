package grpcauth

import (
	"strings"

	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

var (
	reads     = []Role{RoleReader, RoleOperator}
	commands  = []Role{RoleOperator}
	serviceOp = []Role{RoleService}
)

// Rules maps the full name of every method of every dropsync service to the
// roles that may call it. A method missing here is refused: adding a method
// to a service means adding its rule (a test fails otherwise).
var Rules = map[string][]Role{
	// OrderService (orders:8080).
	ordersv1.OrderService_GetOrder_FullMethodName:              {RoleReader, RoleOperator, RoleService}, // the notifier reads an order's state
	ordersv1.OrderService_ListOrders_FullMethodName:            reads,
	ordersv1.OrderService_CountOrders_FullMethodName:           reads,
	ordersv1.OrderService_GetOrderHistory_FullMethodName:       reads, // customer data: never a service's
	ordersv1.OrderService_WatchOrders_FullMethodName:           reads,
	ordersv1.OrderService_GetStoreSettings_FullMethodName:      {RoleReader, RoleOperator, RoleService}, // connectors and the notifier
	ordersv1.OrderService_ListSupplierMappings_FullMethodName:  reads,
	ordersv1.OrderService_GetStoreHealth_FullMethodName:        reads,
	ordersv1.OrderService_PlaceOrders_FullMethodName:           commands,
	ordersv1.OrderService_RetryOrders_FullMethodName:           commands,
	ordersv1.OrderService_RetryFulfillment_FullMethodName:      commands,
	ordersv1.OrderService_FulfillManually_FullMethodName:       commands,
	ordersv1.OrderService_ResyncOrder_FullMethodName:           commands,
	ordersv1.OrderService_ResolveConflict_FullMethodName:       commands,
	ordersv1.OrderService_UpdateStoreSettings_FullMethodName:   commands,
	ordersv1.OrderService_UpdateSupplierMapping_FullMethodName: commands,

	// ShippingConfirmationService (notifier:8082).
	notifierv1.ShippingConfirmationService_IssueConfirmation_FullMethodName: serviceOp, // the store connectors
	notifierv1.ShippingConfirmationService_GetConfirmation_FullMethodName:   {RoleReader, RoleOperator, RoleService},
	notifierv1.ShippingConfirmationService_ListConfirmations_FullMethodName: reads,

	// SupplierSyncService (aliexpress:8083).
	aliexpressv1.SupplierSyncService_SyncNow_FullMethodName:             commands, // spends the manual sync quota
	aliexpressv1.SupplierSyncService_GetSyncQuota_FullMethodName:        reads,
	aliexpressv1.SupplierSyncService_GetConnectionHealth_FullMethodName: reads,

	// Server reflection, registered only when DROPSYNC_GRPC_REFLECTION is on.
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      reads,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": reads,
}

// openPrefix is the service anyone may call: health, for kubelet probes and
// load balancers, which carry no credentials.
const openPrefix = "/grpc.health.v1.Health/"

// Open reports whether anonymous callers may call method.
func Open(method string) bool { return strings.HasPrefix(method, openPrefix) }
