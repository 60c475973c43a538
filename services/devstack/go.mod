module github.com/dropsync/dropsync/services/devstack

go 1.26.0
