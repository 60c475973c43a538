module github.com/dropsync/dropsync/services/orders

go 1.26.0
