{
  "targets": [
    {
      "target_name": "netshare_native",
      "sources": [ "native/addon.cc" ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")" ],
      "defines": [ "NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS" ],
      "cflags_cc": [ "-std=c++17", "-O3" ],
      "cflags_cc!": [ "-fno-exceptions" ],
      "libraries": [ "<!@(pkg-config --libs libpcap)" ],
      "cflags": [ "<!@(pkg-config --cflags libpcap)" ]
    }
  ]
}
