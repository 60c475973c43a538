module github.com/dropsync/dropsync/services/shopify

go 1.26.0
