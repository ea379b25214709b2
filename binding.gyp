{
  "targets": [
    {
      "target_name": "netshare_native",
      "sources": [ "<!@(ls -1 native/*.cc)" ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")", "native" ],
      "defines": [ "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS" ],
      "cflags_cc": [ "-std=c++17", "-O3", "-fexceptions", "<!@(pkg-config --cflags libpcap)" ],
      "cflags_cc!": [ "-fno-exceptions", "-fno-rtti", "-std=gnu++17" ],
      "libraries": [ "<!@(pkg-config --libs libpcap)", "-lz" ]
    }
  ]
}
