module github.com/dropsync/dropsync/services/chaos

go 1.26.0
