//go:build race

package race_test

func init() { raceBuild = true }
