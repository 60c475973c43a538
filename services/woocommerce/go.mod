module github.com/dropsync/dropsync/services/woocommerce

go 1.26.0
