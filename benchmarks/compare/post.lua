-- POST REQ_PATH with the fixed JSON body in BODY_FILE (etcd's range).
dofile(os.getenv("COMPARE_DIR") .. "/common.lua")
function init(args)
  req = wrk.format("POST", os.getenv("REQ_PATH"), {["Content-Type"] = "application/json"},
    read_file(os.getenv("BODY_FILE")))
end
request = function() return req end
