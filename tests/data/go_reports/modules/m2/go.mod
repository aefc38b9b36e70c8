module example.com/m2

go 1.19

require github.com/missing/dep v1.2.3
