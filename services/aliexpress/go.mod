module github.com/dropsync/dropsync/services/aliexpress

go 1.26.0
