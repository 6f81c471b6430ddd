module github.com/rocketgo/rocketgo/conformance

go 1.24.0

replace github.com/rocketgo/rocketgo => ../
