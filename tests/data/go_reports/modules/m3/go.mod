module example.com/m3

go 1.19
