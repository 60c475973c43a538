module github.com/dropsync/dropsync/services/notifier

go 1.26.0
