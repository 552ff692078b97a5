PKG_CFLAGS := -I/usr/include/libusb-1.0 -I/usr/include/blkid -I/usr/include/cjson -I/usr/include/uuid -I/usr/include/json-c -I/usr/include/x86_64-linux-gnu 
LIBS_AGENT := -ludev -lusb-1.0 -lblkid -lssl -lcrypto -lcjson -lsqlite3 -lz -llzma -llz4 -lcryptsetup 
LIBS_GATE := -ludev -lblkid -lcjson 
LIBS_CTL := -ludev -lusb-1.0 -lblkid -lssl -lcrypto -lcjson -lsqlite3 -llzma -llz4 -lcryptsetup -lcurl -lz 
LIBS_SRV := -levent_openssl -levent -lssl -lcrypto -lcjson -lsqlite3 -licuuc -licudata -lxlsxwriter -lz 
CMOCKA_LIBS := -lcmocka 
UMOCKDEV_CFLAGS := -I/usr/include/umockdev-1.0 -I/usr/include/glib-2.0 -I/usr/lib/x86_64-linux-gnu/glib-2.0/include 
UMOCKDEV_LIBS := -lumockdev -lgobject-2.0 -lglib-2.0 
