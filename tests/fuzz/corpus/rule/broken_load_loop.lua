-- loops at load time: the load budget must stop it
while true do end
