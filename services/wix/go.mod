module github.com/dropsync/dropsync/services/wix

go 1.26.0
