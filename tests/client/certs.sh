# Sourced by the client end-to-end scripts that need certificates: made at test time with the
# openssl command, under $C (set C before calling).
#
#   make_ca NAME                 NAME.crt / NAME.key, a self-signed CA
#   make_cert CA NAME CN SAN     NAME.crt / NAME.key signed by CA, for servers and clients
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=kommo e2e $1" -keyout "$C/$1.key" -out "$C/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
}
make_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
    -keyout "$C/$2.key" -out "$C/$2.csr" 2>/dev/null &&
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' \
      "$4" >"$C/$2.ext" &&
    openssl x509 -req -in "$C/$2.csr" -CA "$C/$1.crt" -CAkey "$C/$1.key" -CAcreateserial -days 1 \
      -extfile "$C/$2.ext" -out "$C/$2.crt" 2>/dev/null
}
